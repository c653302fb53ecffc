"""Vocabularies and distributions of the synthetic source (our own lists, in source casing).

Enum values are emitted the way an upstream system would write them ('Credit Card', 'Web');
Silver lower-cases them, and the contract's enums are the lower-cased forms. A unit test keeps
every value here inside the contract's enum.
"""

from __future__ import annotations

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra "
    "Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol "
    "Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura "
    "Jeffrey Cynthia Ryan Dorothy Jacob Amy Gary Kathleen Nicholas Angela Eric Shirley Jonathan Emma "
    "Stephen Brenda Larry Pamela Justin Nicole Scott Anna Brandon Samantha Benjamin Katherine Samuel "
    "Christine Gregory Debra Alexander Rachel Patrick Carolyn Frank Janet Raymond Maria Jack Olivia "
    "Dennis Heather Jerry Helen Tyler Catherine Aaron Diane Jose Julie Adam Victoria Nathan Joyce Henry "
    "Lauren Zachary Kelly Douglas Christina Peter Ruth Kyle Joan Noah Virginia Ethan Judith Jeremy "
    "Evelyn Walter Hannah Christian Andrea Keith Megan Roger Cheryl Terry Jacqueline Austin Madison "
    "Sean Teresa Gerald Abigail Carl Sophia Harold Martha Dylan Sara Arthur Gloria Lawrence Janice Jordan "
    "Kathryn Jesse Ann Bryan Isabella Billy Judy Bruce Charlotte Gabriel Julia Joe Grace Logan Amber "
    "Alan Alice Juan Jean Albert Denise Willie Frances Elijah Danielle Wayne Marilyn Randy Natalie "
    "Vincent Diana Mason Brittany Roy Beverly Ralph Kayla Bobby Alexis Russell Lori Bradley Tiffany"
).split()

LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James "
    "Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster "
    "Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher "
    "Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno "
    "West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall "
    "Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb "
    "Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason"
).split()

EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "proton.me",
    "example.com",
)
EMAIL_DOMAIN_WEIGHTS = (0.38, 0.14, 0.14, 0.1, 0.1, 0.04, 0.04, 0.06)

# (city, state, 3-digit ZIP prefix, relative population weight)
CITIES = (
    ("New York", "NY", "100", 8.3),
    ("Los Angeles", "CA", "900", 3.9),
    ("Chicago", "IL", "606", 2.7),
    ("Houston", "TX", "770", 2.3),
    ("Phoenix", "AZ", "850", 1.6),
    ("Philadelphia", "PA", "191", 1.6),
    ("San Antonio", "TX", "782", 1.5),
    ("San Diego", "CA", "921", 1.4),
    ("Dallas", "TX", "752", 1.3),
    ("Austin", "TX", "787", 1.0),
    ("Jacksonville", "FL", "322", 0.95),
    ("San Jose", "CA", "951", 1.0),
    ("Columbus", "OH", "432", 0.9),
    ("Charlotte", "NC", "282", 0.88),
    ("Indianapolis", "IN", "462", 0.88),
    ("Seattle", "WA", "981", 0.75),
    ("Denver", "CO", "802", 0.72),
    ("Boston", "MA", "021", 0.68),
    ("Nashville", "TN", "372", 0.69),
    ("Detroit", "MI", "482", 0.63),
    ("Portland", "OR", "972", 0.65),
    ("Las Vegas", "NV", "891", 0.65),
    ("Memphis", "TN", "381", 0.63),
    ("Louisville", "KY", "402", 0.62),
    ("Baltimore", "MD", "212", 0.58),
    ("Milwaukee", "WI", "532", 0.57),
    ("Albuquerque", "NM", "871", 0.56),
    ("Tucson", "AZ", "857", 0.54),
    ("Fresno", "CA", "937", 0.54),
    ("Sacramento", "CA", "958", 0.52),
    ("Kansas City", "MO", "641", 0.51),
    ("Atlanta", "GA", "303", 0.5),
    ("Miami", "FL", "331", 0.44),
    ("Raleigh", "NC", "276", 0.47),
    ("Omaha", "NE", "681", 0.48),
    ("Minneapolis", "MN", "554", 0.43),
    ("Tulsa", "OK", "741", 0.41),
    ("Cleveland", "OH", "441", 0.37),
    ("New Orleans", "LA", "701", 0.38),
    ("Tampa", "FL", "336", 0.39),
    ("Pittsburgh", "PA", "152", 0.3),
    ("Cincinnati", "OH", "452", 0.31),
    ("Salt Lake City", "UT", "841", 0.2),
    ("Boise", "ID", "837", 0.23),
    ("Burlington", "VT", "054", 0.05),
    ("Portland", "ME", "041", 0.07),
    ("Anchorage", "AK", "995", 0.29),
    ("Honolulu", "HI", "968", 0.35),
    ("Des Moines", "IA", "503", 0.21),
    ("Richmond", "VA", "232", 0.23),
    ("Hartford", "CT", "061", 0.12),
    ("Providence", "RI", "029", 0.19),
    ("Charleston", "SC", "294", 0.15),
    ("Little Rock", "AR", "722", 0.2),
    ("Jackson", "MS", "392", 0.15),
    ("Birmingham", "AL", "352", 0.2),
    ("Fargo", "ND", "581", 0.13),
    ("Sioux Falls", "SD", "571", 0.19),
    ("Billings", "MT", "591", 0.12),
    ("Cheyenne", "WY", "820", 0.07),
    ("Wilmington", "DE", "198", 0.07),
    ("Manchester", "NH", "031", 0.11),
    ("Charleston", "WV", "253", 0.05),
    ("Washington", "DC", "200", 0.69),
)

STREETS = (
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Church",
    "River",
    "Highland",
    "Meadow",
    "Forest",
    "Ridge",
    "Spring",
    "Valley",
    "Willow",
    "Franklin",
    "Jefferson",
    "Adams",
    "Madison",
    "Walnut",
    "Chestnut",
    "Birch",
    "Harbor",
)
STREET_SUFFIXES = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way", "Pl", "Ter")

# --- customers -----------------------------------------------------------------------------------
GENDERS = ("Female", "Male", "Unknown")
GENDER_WEIGHTS = (0.49, 0.47, 0.04)
CUSTOMER_STATUSES = ("Active", "Inactive", "Dormant")
CUSTOMER_STATUS_WEIGHTS = (0.8, 0.15, 0.05)
STATUS_PROPENSITY = (1.0, 0.3, 0.08)  # how likely a customer of that status shops
SIGNUP_CHANNELS = ("Website", "Email", "Social Media", "Phone")
SIGNUP_CHANNEL_WEIGHTS = (0.55, 0.2, 0.15, 0.1)
TIERS = ("Bronze", "Silver", "Gold", "Platinum")
TIER_SPEND = (0.0, 500.0, 1500.0, 4000.0)  # lifetime spend that earns the tier
TIER_PROPENSITY = (1.0, 1.4, 1.9, 2.6)
CLV_BUCKETS = ("Low", "Medium", "High")
CLV_SPEND = (0.0, 250.0, 1000.0)

# --- products ------------------------------------------------------------------------------------
CATEGORIES = ("Electronics", "Clothing", "Books", "Home", "Toys")
CATEGORY_WEIGHTS = (0.24, 0.26, 0.16, 0.2, 0.14)
# lognormal price parameters per category: (median price, sigma)
CATEGORY_PRICE = ((89.0, 0.8), (32.0, 0.55), (16.0, 0.45), (42.0, 0.7), (24.0, 0.6))
PRODUCT_WORDS = {
    "Electronics": (
        ("Wireless", "Smart", "Portable", "Ultra", "Compact", "Pro", "Noise-Cancelling", "4K"),
        (
            "Headphones",
            "Speaker",
            "Monitor",
            "Keyboard",
            "Charger",
            "Camera",
            "Tablet",
            "Router",
            "Mouse",
            "Smartwatch",
        ),
    ),
    "Clothing": (
        ("Classic", "Slim-Fit", "Organic", "Waterproof", "Vintage", "Everyday", "Merino", "Linen"),
        ("T-Shirt", "Jeans", "Jacket", "Sweater", "Dress", "Hoodie", "Sneakers", "Scarf", "Shorts", "Socks"),
    ),
    "Books": (
        ("Illustrated", "Complete", "Pocket", "Collected", "Annotated", "Essential", "Beginner's", "Modern"),
        ("Cookbook", "Novel", "Guide", "Atlas", "Biography", "Anthology", "Workbook", "Handbook", "Memoir", "Poems"),
    ),
    "Home": (
        ("Ceramic", "Bamboo", "Stainless", "Cozy", "Nordic", "Rustic", "Cast-Iron", "Glass"),
        ("Mug", "Blender", "Lamp", "Blanket", "Skillet", "Vase", "Shelf", "Cutting Board", "Kettle", "Pillow"),
    ),
    "Toys": (
        ("Wooden", "Magnetic", "Plush", "Remote-Control", "Educational", "Giant", "Mini", "Glow-in-the-Dark"),
        ("Puzzle", "Robot", "Dinosaur", "Train Set", "Building Blocks", "Doll", "Kite", "Board Game", "Car", "Bear"),
    ),
}

# --- orders --------------------------------------------------------------------------------------
CHANNELS = ("Web", "Phone", "Social Media", "eBay", "NewEgg")
CHANNEL_WEIGHTS = (0.45, 0.2, 0.15, 0.15, 0.05)
PAYMENT_METHODS = ("Credit Card", "PayPal", "Apple Pay", "Google Pay", "ACH")
# payment method weights per order channel (marketplaces settle mostly by card or PayPal)
PAYMENT_WEIGHTS_BY_CHANNEL = (
    (0.55, 0.2, 0.12, 0.08, 0.05),  # Web
    (0.8, 0.0, 0.0, 0.0, 0.2),  # Phone
    (0.45, 0.25, 0.18, 0.12, 0.0),  # Social Media
    (0.5, 0.5, 0.0, 0.0, 0.0),  # eBay
    (0.75, 0.25, 0.0, 0.0, 0.0),  # NewEgg
)
PROCESSING_FEE_RATE = (0.029, 0.034, 0.025, 0.025, 0.008)
SHIPPING_SPEEDS = ("Standard", "Two-Day", "Overnight")
SHIPPING_WEIGHTS = (0.68, 0.2, 0.12)
SHIPPING_PRICE = (5.99, 14.99, 29.99)  # charged to the customer
SHIPPING_ACTUAL = (4.5, 11.0, 23.0)  # what the carrier charges us (before noise)
FREE_SHIPPING_OVER = 75.0  # Standard shipping is free above this net total
AGENTS = 40  # CSR-0001 .. CSR-0040 take phone orders

# --- carts ---------------------------------------------------------------------------------------
CART_STATUS = {"open": "open", "converted": "converted", "abandoned": "abandoned", "emptied": "emptied"}

# --- returns -------------------------------------------------------------------------------------
RETURN_REASONS = (
    "Defective",
    "Wrong item",
    "Arrived damaged",
    "Product did not match description",
    "Found a better price",
    "Item arrived late",
    "No longer needed",
    "Damaged in transit",
    "Changed mind",
)
RETURN_REASON_WEIGHTS = (0.16, 0.1, 0.09, 0.14, 0.08, 0.06, 0.14, 0.07, 0.16)
RETURN_TYPES = ("Refund", "Exchange", "Store Credit")
RETURN_TYPE_WEIGHTS = (0.8, 0.12, 0.08)

# --- seasonality ---------------------------------------------------------------------------------
# Monday .. Sunday
WEEKDAY_FACTOR = (1.06, 1.02, 0.99, 0.98, 0.96, 0.93, 1.06)
# January .. December (holiday peak, summer bump, quiet late winter)
MONTH_FACTOR = (0.92, 0.86, 0.93, 0.95, 0.98, 0.97, 1.02, 0.98, 0.95, 1.0, 1.22, 1.42)
# shopping activity by hour of day (UTC), evening peak
HOUR_WEIGHTS = (
    1.6,
    1.1,
    0.7,
    0.5,
    0.4,
    0.5,
    0.9,
    1.6,
    2.6,
    3.4,
    3.9,
    4.2,
    4.5,
    4.6,
    4.4,
    4.3,
    4.4,
    4.8,
    5.4,
    6.0,
    6.3,
    5.8,
    4.4,
    2.8,
)
