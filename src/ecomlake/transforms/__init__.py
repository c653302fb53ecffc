"""The ten Enriched Silver transforms, one module per table, written with Ibis.

`builders()` maps each table to its `build(ctx) -> (ibis expression, partitions it rewrites)`;
snapshot tables return None for the partitions (they always write ingest_dt=D). The modules are
imported on first use so that `ecomlake.enriched.state` (which they use) can import the shared
helpers in `transforms.common` without a cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ecomlake.transforms.schemas import SPECS, TABLE_NAMES

MODULES = {
    "int_attributed_purchases": "attributed_purchases",
    "int_cart_attribution": "cart_attribution",
    "int_product_performance": "product_performance",
    "int_sales_velocity": "sales_velocity",
    "int_customer_retention_signals": "customer_retention",
    "int_customer_lifetime_value": "customer_lifetime_value",
    "int_regional_financials": "regional_financials",
    "int_shipping_economics": "shipping_economics",
    "int_inventory_risk": "inventory_risk",
    "int_daily_business_metrics": "daily_business_metrics",
}
assert tuple(MODULES) == TABLE_NAMES and set(MODULES) == set(SPECS)


def builders() -> dict[str, Callable]:
    return {t: importlib.import_module(f"ecomlake.transforms.{m}").build for t, m in MODULES.items()}
