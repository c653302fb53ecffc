{{ config(enabled=var('gold', false)) }}
-- fct_sales_operations has one row per int_sales_velocity row with the same quantities, reads a
-- single inventory snapshot, and its risk rank matches its tier.
{%- set run_date = var('run_date', none) %}

with src as (
    select count(*) as product_days, coalesce(sum(daily_quantity), 0) as units
    from {{ source('enriched', 'int_sales_velocity') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}
),

mart as (
    select
        count(*) as product_days,
        coalesce(sum(daily_quantity), 0) as units,
        count(distinct inventory_snapshot_date) as snapshots,
        count(*) filter (
            where inventory_risk_rank is distinct from
            case inventory_risk_tier
                when 'HIGH' then 4 when 'MODERATE' then 3 when 'OVERSTOCK' then 2 when 'HEALTHY' then 1
            end
        ) as bad_ranks
    from {{ ref('fct_sales_operations') }}
)

select src.*, mart.*
from src, mart
where src.product_days <> mart.product_days
    or src.units <> mart.units
    or mart.snapshots > 1
    or mart.bad_ranks > 0
