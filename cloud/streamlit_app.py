"""Community Cloud entry point (main file path: cloud/streamlit_app.py): runs app.py from the repository root.

Community Cloud installs cloud/requirements.txt (the same pins as requirements.txt, torch from its CPU index).
Page files are registered by absolute path (explorer/ui/nav.py), so they do not depend on this file's folder.
"""
import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
runpy.run_path(str(ROOT / "app.py"), run_name="__main__")
