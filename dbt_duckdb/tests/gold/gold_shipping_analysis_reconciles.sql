{{ config(enabled=var('gold', false)) }}
-- fct_shipping_analysis totals per order date equal int_shipping_economics.
{%- set run_date = var('run_date', none) %}

with source_days as (
    select
        order_dt,
        count(*) as orders,
        coalesce(sum(shipping_cost), 0) as ship_revenue,
        coalesce(sum(actual_shipping_cost), 0) as ship_cost,
        coalesce(sum(shipping_margin), 0) as ship_margin
    from {{ source('enriched', 'int_shipping_economics') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}
    group by order_dt
),

mart_days as (
    select
        order_date,
        sum(orders_count) as orders,
        sum(shipping_revenue) as ship_revenue,
        sum(shipping_cost) as ship_cost,
        sum(shipping_margin) as ship_margin
    from {{ ref('fct_shipping_analysis') }}
    group by order_date
)

select s.*, m.*
from source_days as s
full outer join mart_days as m
    on s.order_dt = m.order_date
where s.order_dt is null
    or m.order_date is null
    or m.orders <> s.orders
    or m.ship_revenue <> s.ship_revenue
    or m.ship_cost <> s.ship_cost
    or m.ship_margin <> s.ship_margin
