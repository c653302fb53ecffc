{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per (product_id, product_date), as in int_product_performance. The ratios are
    the enriched ones, computed from the sums of that same product-day (so already weighted);
    any roll-up to a coarser grain must re-divide the sums, never average these ratios. -#}
{%- set run_date = var('run_date', none) %}

select
    product_id,
    product_dt as product_date,
    product_name,
    category,
    units_sold,
    units_returned,
    units_in_carts,
    cast(gross_revenue as decimal(38, 2)) as gross_revenue,
    cast(discount_amount as decimal(38, 2)) as discount_amount,
    cast(refunded_amount as decimal(38, 2)) as refunded_amount,
    cast(net_revenue as decimal(38, 2)) as net_revenue,
    cast(cogs as decimal(38, 2)) as cogs,
    cast(gross_margin as decimal(38, 2)) as gross_margin,
    cast(net_margin as decimal(38, 2)) as net_margin,
    cast(margin_pct as double) as margin_pct,
    cast(return_rate as double) as return_rate,
    cast(cart_to_order_rate as double) as cart_to_order_rate
from {{ source('enriched', 'int_product_performance') }}
{%- if run_date %}
where product_dt <= date '{{ run_date }}'
{%- endif %}
