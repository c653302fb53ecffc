{{ config(enabled=var('gold', false)) }}
-- fct_product_profitability has exactly int_product_performance's rows and money.
{%- set run_date = var('run_date', none) %}

with src as (
    select
        count(*) as product_days,
        coalesce(sum(units_sold), 0) as units_sold,
        coalesce(sum(gross_revenue), 0) as gross_revenue,
        coalesce(sum(net_revenue), 0) as net_revenue,
        coalesce(sum(gross_margin), 0) as gross_margin,
        coalesce(sum(net_margin), 0) as net_margin
    from {{ source('enriched', 'int_product_performance') }}
    {%- if run_date %}
    where product_dt <= date '{{ run_date }}'
    {%- endif %}
),

mart as (
    select
        count(*) as product_days,
        coalesce(sum(units_sold), 0) as units_sold,
        coalesce(sum(gross_revenue), 0) as gross_revenue,
        coalesce(sum(net_revenue), 0) as net_revenue,
        coalesce(sum(gross_margin), 0) as gross_margin,
        coalesce(sum(net_margin), 0) as net_margin
    from {{ ref('fct_product_profitability') }}
)

select src.*, mart.product_days as mart_product_days, mart.gross_revenue as mart_gross_revenue
from src, mart
where src.product_days <> mart.product_days
    or src.units_sold <> mart.units_sold
    or src.gross_revenue <> mart.gross_revenue
    or src.net_revenue <> mart.net_revenue
    or src.gross_margin <> mart.gross_margin
    or src.net_margin <> mart.net_margin
