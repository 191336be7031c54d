"""The demo catalog every service seeds its own slice of, generated deterministically.

No service reads another's tables: product seeds the products, pricing their prices,
inventory their stock, discount the promotions (and a product -> category read model),
recommendation a product -> (name, category) read model. All from this one generator,
so a fresh `make run` always shows the same shop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

# category: (nouns, price range in cents)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "Books": (("Novel", "Cookbook", "Atlas", "Field Guide", "Anthology", "Memoir", "Handbook",
               "Poetry Collection"), (799, 4999)),
    "Electronics": (("Headphones", "Speaker", "Charger", "Keyboard", "Mouse", "Webcam",
                     "Power Bank", "Smart Lamp"), (1499, 29999)),
    "Home": (("Mug", "Candle", "Throw Blanket", "Vase", "Cushion", "Clock", "Picture Frame",
              "Doormat"), (599, 8999)),
    "Kitchen": (("Chef Knife", "Skillet", "Cutting Board", "Teapot", "Mixing Bowl", "Grater",
                 "Spatula", "Coffee Grinder"), (499, 15999)),
    "Garden": (("Trowel", "Watering Can", "Planter", "Pruning Shears", "Seed Kit", "Hose",
                "Bird Feeder", "Garden Gloves"), (399, 12999)),
    "Sports": (("Yoga Mat", "Water Bottle", "Jump Rope", "Dumbbell Set", "Tennis Racket",
                "Running Belt", "Resistance Band", "Climbing Chalk"), (699, 19999)),
    "Toys": (("Puzzle", "Building Set", "Plush Fox", "Kite", "Marble Run", "Board Game",
              "Yo-yo", "Train Set"), (499, 8999)),
    "Clothing": (("T-Shirt", "Hoodie", "Scarf", "Beanie", "Rain Jacket", "Socks", "Sweater",
                  "Cap"), (999, 14999)),
    "Beauty": (("Hand Cream", "Lip Balm", "Soap Bar", "Face Mask", "Shampoo", "Body Oil",
                "Bath Salts", "Comb"), (299, 5999)),
    "Office": (("Notebook", "Fountain Pen", "Desk Organizer", "Stapler", "Sticky Notes",
                "Desk Lamp", "Planner", "Pencil Case"), (199, 9999)),
}
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Vintage", "Modern", "Rustic", "Nordic",
              "Urban", "Everyday", "Premium", "Travel", "Handmade", "Bold", "Quiet", "Bright")
COLOURS = ("Slate", "Sage", "Ivory", "Coral", "Indigo", "Amber", "Teal", "Charcoal")
PRODUCT_COUNT = 520
CURRENCY = "USD"


@dataclass(frozen=True)
class SeedProduct:
    id: int
    name: str
    category: str
    description: str
    price: int
    stock: int


@dataclass(frozen=True)
class SeedPromotion:
    id: int
    name: str
    kind: str
    value: int
    scope: str
    product_id: int | None = None
    category: str | None = None
    code: str | None = None


@cache
def products() -> tuple[SeedProduct, ...]:
    rng = random.Random(20261123)
    names = list(CATEGORIES)
    result, taken = [], set()
    for pid in range(1, PRODUCT_COUNT + 1):
        category = names[(pid - 1) % len(names)]
        nouns, (low, high) = CATEGORIES[category]
        name = ""
        while not name or name in taken:  # names are unique, so search finds one product
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(COLOURS)} {rng.choice(nouns)}"
        taken.add(name)
        roll = rng.random()  # ~8% sold out, ~12% low stock, the rest plenty
        stock = 0 if roll < 0.08 else rng.randint(1, 5) if roll < 0.2 else rng.randint(10, 250)
        price = rng.randrange(low, high, 100)  # every range starts at .99, so all prices do
        description = f"{name}, from our {category.lower()} range."
        result.append(SeedProduct(pid, name, category, description, price, stock))
    return tuple(result)


def promotions() -> tuple[SeedPromotion, ...]:
    return (
        SeedPromotion(1, "Reading week: 15% off books", "percent", 15, "category",
                      category="Books"),
        SeedPromotion(2, "Garden season: 10% off garden", "percent", 10, "category",
                      category="Garden"),
        SeedPromotion(3, "Deal of the day", "percent", 30, "product", product_id=1),
        SeedPromotion(4, "$5 off this speaker", "amount", 500, "product", product_id=2),
        SeedPromotion(5, "Clearance", "percent", 50, "product", product_id=7),
        SeedPromotion(6, "Welcome code: 10% off", "percent", 10, "code", code="WELCOME10"),
    )
