"""A seeded template grammar of support tickets: the lessons' world (Refund / Shipping / Account).

Synthetic text, written here (no third-party data): a customer's message of a few sentences
(order ids, dates, products, names), its label, and a short agent reply. The same seed gives the
same tickets, byte for byte (one `random.Random(seed)` stream, no other source of randomness).

Two kinds of document, each ending where the corpus puts end-of-text:
- a ticket:          [prefix]<message>\\nLabel: <label>\\nAgent: <reply>
- a labelled list:   Message: <short message>\\nLabel: <label>\\n\\n ... (4 to 7 of them), half of them
                     after the Families page's instruction line: the layout of its few-shot prompts
                     (explorer.families.prompt_parts), so a decoder can learn what `Label:` asks for.
The label always follows the message on a line of its own as `Label: Refund` (a space, then one of
LABELS), so the next token after `Label:` is where a classifier reads the model's answer.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from explorer import families

LABELS = families.LABELS            # ("Refund", "Shipping", "Account")
FEW_SHOT_FIELD = "Message"      # the field name of a labelled list (and of few-shot prompts)

NAMES = ["Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "James", "Kenji", "Laura",
         "Maya", "Nils", "Olivia", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Yara", "Zoe",
         "Priya", "Marco", "Lena", "Omar", "Sofia", "Tom", "Aiko", "Diego", "Hanna", "Ivan", "Julia"]
AGENTS = ["Alex", "Jordan", "Casey", "Robin", "Morgan", "Taylor", "Jamie", "Riley"]
PRODUCTS = ["lamp", "kettle", "backpack", "pair of boots", "phone case", "desk chair", "coffee grinder", "blender",
            "rain jacket", "yoga mat", "set of knives", "bike helmet", "toaster", "laptop stand", "wool blanket",
            "pair of headphones", "water bottle", "garden hose", "winter coat", "tea set", "bookshelf", "keyboard",
            "mirror", "frying pan", "sleeping bag", "printer", "board game", "watch", "camera bag", "rug"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
COURIERS = ["the courier", "the delivery driver", "the post office", "the carrier"]

GREETINGS = ["Hi,", "Hello,", "Hello support team,", "Good morning,", "Hi there,", "Dear support,", "Hey,"]
SIGN_OFFS = ["Thanks, {name}", "Best regards, {name}", "Thank you, {name}", "Kind regards, {name}", "{name}",
             "Cheers, {name}"]

# the opening sentence of a message: what the customer asks first (the lessons' three among them)
OPENERS = {
    "Shipping": ["Where is my order?", "I never received my package.", "My parcel has not arrived yet.",
                 "My order is late.", "When will my order arrive?", "Has my package been shipped?",
                 "The tracking page has not changed for days.", "My delivery is missing.",
                 "Where is my parcel?", "Can you tell me when my order will ship?"],
    "Refund": ["I want my money back.", "I would like a refund.", "Can I get a refund for my order?",
               "I was charged twice.", "I returned an item but have not been refunded.",
               "Please refund my order.", "I want to return an item for a refund.",
               "My refund has not arrived.", "I was charged the wrong amount.", "How do I get my money back?"],
    "Account": ["I forgot my password.", "I cannot log in to my account.", "My account is locked.",
                "How do I change my email address?", "I want to delete my account.",
                "The password reset link does not work.", "Someone else may be using my account.",
                "I cannot sign in since the update.", "How do I update my account details?",
                "I never got the verification email."],
}
# sentences that add detail; {slots} are filled from the lists above
DETAILS = {
    "Shipping": ["I ordered a {product} on {date} and it still has not arrived.",
                 "The order number is {order}.", "It was supposed to arrive on {date}.",
                 "The tracking number says it left the warehouse on {date}, but nothing since then.",
                 "{courier} says it was delivered, but there was nothing at my door.",
                 "I paid for express delivery, so it should have been here by {day}.",
                 "I need the {product} before {date}, because it is a present.",
                 "I checked with my neighbours and they have not seen a parcel either.",
                 "Could you check where order {order} is?", "I have been waiting for {n} days now.",
                 "The address on the order is correct.", "Can you send it again or tell me where it is?"],
    "Refund": ["I returned the {product} on {date} and still have no refund.",
               "The {product} broke after {n} days and I would like my money back.",
               "My card was charged twice for order {order}.", "I sent it back with the return label on {day}.",
               "The {product} was not what the picture showed.", "Please send the refund to my card.",
               "It has been {n} days since you received the return.", "The order number was {order}.",
               "I cancelled order {order} on {date}, but I was still charged.",
               "The price dropped the day after I paid, and I was told I could get the difference back.",
               "I would rather have the money than a replacement.", "The {product} arrived broken."],
    "Account": ["I tried to reset my password on {date}, but the email never came.",
                "The app says my password is wrong, even after I changed it.",
                "I signed up with my old email address, which I cannot use any more.",
                "My account was locked after {n} wrong attempts.",
                "I got an email about a login from a device I do not own.",
                "I would like to change the name on my account to {name2}.",
                "Please delete my account and all my data.", "I can still see my order {order} in the app.",
                "The sign-in page keeps loading and then shows an error.",
                "I have had this account for {n} years.", "I want to turn on two-step verification.",
                "My phone number has changed."],
}
REPLIES = {
    "Shipping": ["Sorry for the wait, {name}.", "Thanks for your patience, {name}.", "I am sorry about the delay."],
    "Refund": ["Sorry about that, {name}.", "Thank you for letting us know, {name}.", "I am sorry for the trouble."],
    "Account": ["Thanks for reaching out, {name}.", "I can help with that, {name}.", "Sorry for the trouble, {name}."],
}
REPLY_BODIES = {
    "Shipping": ["Your order left our warehouse on {date} and should arrive by {day}.",
                 "I have asked {courier} to trace the parcel and will write again within two days.",
                 "I have sent a new parcel by express delivery; it should arrive on {date}.",
                 "The parcel is waiting at your local post office, so you can pick it up with your order number.",
                 "The tracking link has been updated, and the parcel is now out for delivery.",
                 "The carrier had a delay in your area, and the parcel should reach you in {n} days."],
    "Refund": ["I have refunded {amount} to your card; it should arrive within {n} business days.",
               "Your return reached us on {date}, and the refund was sent today.",
               "I have cancelled the second charge, so you will see the money back soon.",
               "I have sent you a return label by email; once the item is back, we will refund you.",
               "The difference of {amount} is on its way back to your card.",
               "Your refund of {amount} was approved this morning."],
    "Account": ["I have sent a new reset link to your email; it works for one hour.",
                "Your account is unlocked now, and you can sign in again.",
                "I have changed the email address on your account, so please confirm it from your inbox.",
                "Your account will be deleted within {n} days, and we will send a confirmation.",
                "I have signed out every device and asked you to choose a new password.",
                "You can turn on two-step verification under Settings, then Security."],
}
REPLY_CLOSINGS = ["Is there anything else I can help with?", "Let me know if you need anything else.",
                  "Have a nice day.", "Thanks for shopping with us.", "We are here if you need more help.", ""]
PREFIXES = ["", "", "", "Customer: ", "Message: ", "Email from {name}: ", "Ticket {order}: "]


@dataclass(frozen=True)
class Ticket:
    label: str
    message: str       # what the customer wrote (several sentences)
    reply: str         # the agent's short answer

    def document(self, prefix: str = "") -> str:
        return f"{prefix}{self.message}\nLabel: {self.label}\nAgent: {self.reply}"


class Grammar:
    """Draws tickets from one seeded stream: `Grammar(seed).ticket()`, `.short_message()`, `.labelled_list()`."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    # -------------------------------------------------------------- slots
    def _date(self) -> str:
        r = self.rng
        month, day = r.choice(MONTHS), r.randint(1, 28)
        return r.choice([f"{day} {month}", f"{month} {day}", r.choice(DAYS)])

    def _slots(self) -> dict:
        """The facts of one ticket (its name, order, product, amount...), used by every sentence of it."""
        r = self.rng
        return dict(name=r.choice(NAMES), order=self._order(), product=r.choice(PRODUCTS),
                    courier=r.choice(COURIERS), n=r.randint(2, 14), name2=r.choice(NAMES),
                    amount=f"${r.randint(5, 240)}.{r.choice(['00', '50', '99', '95'])}")

    def _fill(self, template: str, slots: dict) -> str:
        text = template.format(date=self._date(), day=self.rng.choice(DAYS), **slots)
        return text[0].upper() + text[1:]

    def _order(self) -> str:
        return f"#{self.rng.randint(10000, 99999)}"

    # -------------------------------------------------------------- documents
    def ticket(self, label: str | None = None) -> Ticket:
        r = self.rng
        label = label or r.choice(LABELS)
        slots = self._slots()
        parts = []
        if r.random() < 0.35:
            parts.append(r.choice(GREETINGS))
        parts.append(r.choice(OPENERS[label]))
        details = r.sample(DETAILS[label], r.randint(2, 4))
        parts += [self._fill(d, slots) for d in details]
        if r.random() < 0.4:
            parts.append(r.choice(["Thanks for your help.", "Please help.", "I hope you can sort this out.",
                                   "Thank you in advance.", "This is the second time I have asked."]))
        if r.random() < 0.5:
            parts.append(self._fill(r.choice(SIGN_OFFS), slots))
        message = " ".join(parts)
        reply = " ".join(p for p in [self._fill(r.choice(REPLIES[label]), slots),
                                     self._fill(r.choice(REPLY_BODIES[label]), slots),
                                     r.choice(REPLY_CLOSINGS)] if p)
        agent = r.choice(AGENTS)
        if r.random() < 0.5:
            reply += f" {agent}"
        return Ticket(label, message, reply)

    def short_message(self, label: str | None = None) -> tuple[str, str]:
        """(one- or two-sentence message, label): the size of the lessons' few-shot examples."""
        r = self.rng
        label = label or r.choice(LABELS)
        parts = [r.choice(OPENERS[label])]
        if r.random() < 0.5:
            parts.append(self._fill(r.choice(DETAILS[label]), self._slots()))
        return " ".join(parts), label

    def labelled_list(self) -> str:
        items = [self.short_message() for _ in range(self.rng.randint(4, 7))]
        head = families.prompt_parts("", (), LABELS, instruction=True)[0] if self.rng.random() < 0.5 else ""
        return head + "\n\n".join(f"{FEW_SHOT_FIELD}: {m}\nLabel: {lab}" for m, lab in items)

    def document(self) -> str:
        r = self.rng
        if r.random() < 0.2:
            return self.labelled_list()
        t = self.ticket()
        prefix = r.choice(PREFIXES).format(name=r.choice(NAMES), order=self._order())
        return t.document(prefix)


def documents(n: int, seed: int = 0) -> list[str]:
    """n ticket documents from the seed's stream (the same seed -> the same documents, byte for byte)."""
    g = Grammar(seed)
    return [g.document() for _ in range(n)]


def heldout_messages(n: int, seed: int) -> list[tuple[str, str]]:
    """n (short message, label) pairs, labels balanced, for few-shot evaluation: a seed the corpus never uses."""
    g = Grammar(seed)
    return [g.short_message(LABELS[i % len(LABELS)]) for i in range(n)]


def digest(docs: list[str]) -> str:
    """sha256 of the documents joined as the corpus joins them (for pinning determinism)."""
    return hashlib.sha256("\x00".join(docs).encode("utf-8")).hexdigest()
