{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per (order_date, order_channel, shipping_speed).
    shipping_margin_pct is weighted: sum(margin) / sum(shipping charged), so a 2-dollar order
    does not weigh as much as a 200-dollar one (the predecessor averaged per-order percentages). -#}
{%- set run_date = var('run_date', none) %}

with shipping as (

    select
        order_dt,
        coalesce(order_channel, 'unknown') as order_channel,
        coalesce(shipping_speed, 'unknown') as shipping_speed,
        coalesce(is_expedited, false) as is_expedited,
        coalesce(expedited_mismatch, false) as expedited_mismatch,
        shipping_cost,
        actual_shipping_cost,
        shipping_margin
    from {{ source('enriched', 'int_shipping_economics') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}

)

select
    order_dt as order_date,
    order_channel,
    shipping_speed,
    count(*) as orders_count,
    count(*) filter (where is_expedited) as expedited_orders,
    count(*) filter (where expedited_mismatch) as expedited_mismatch_orders,
    count(*) filter (where shipping_cost = 0) as free_shipping_orders,
    cast(coalesce(sum(shipping_cost), 0) as decimal(38, 2)) as shipping_revenue,
    cast(coalesce(sum(actual_shipping_cost), 0) as decimal(38, 2)) as shipping_cost,
    cast(coalesce(sum(shipping_margin), 0) as decimal(38, 2)) as shipping_margin,
    cast(sum(shipping_margin) as double) / nullif(cast(sum(shipping_cost) as double), 0) as shipping_margin_pct
from shipping
group by order_dt, order_channel, shipping_speed
