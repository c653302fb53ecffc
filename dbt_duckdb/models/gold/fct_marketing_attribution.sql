{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per (metric_date, channel); metric_date is the order date.
    Every metric here is about orders, which carry a channel. Carts have no channel of their own
    (only the order that converts one does), so cart abandonment is reported per cart date in
    fct_cart_abandonment instead of under a fake 'unknown' channel, and the customer retention
    counts live in fct_customer_segments instead of being repeated on every channel row. -#}
{%- set run_date = var('run_date', none) %}

with purchases as (

    select
        order_dt,
        coalesce(order_channel, 'unknown') as channel,
        coalesce(is_recovered, false) as is_recovered,
        net_total,
        hours_from_cart
    from {{ source('enriched', 'int_attributed_purchases') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}

)

select
    order_dt as metric_date,
    channel,
    count(*) as total_orders,
    count(*) filter (where is_recovered) as recovered_orders,
    cast(count(*) filter (where is_recovered) as double) / count(*) as recovery_rate,
    cast(coalesce(sum(net_total), 0) as decimal(38, 2)) as net_revenue,
    cast(coalesce(sum(net_total) filter (where is_recovered), 0) as decimal(38, 2)) as recovered_revenue,
    -- weighted share of revenue that came through a tracked cart
    cast(coalesce(sum(net_total) filter (where is_recovered), 0) as double)
    / nullif(cast(sum(net_total) as double), 0) as recovered_revenue_share,
    avg(cast(hours_from_cart as double)) filter (where is_recovered) as avg_hours_from_cart
from purchases
group by order_dt, channel
