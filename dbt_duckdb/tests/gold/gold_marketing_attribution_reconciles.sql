{{ config(enabled=var('gold', false)) }}
-- Per order date, fct_marketing_attribution's orders, recovered orders and revenue equal
-- int_attributed_purchases, and its order count equals fct_finance_revenue's (both enriched tables
-- hold one row per valid order).
{%- set run_date = var('run_date', none) %}

with source_days as (
    select
        order_dt,
        count(*) as orders,
        count(*) filter (where is_recovered) as recovered,
        coalesce(sum(net_total), 0) as net
    from {{ source('enriched', 'int_attributed_purchases') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}
    group by order_dt
),

mart_days as (
    select
        metric_date,
        sum(total_orders) as orders,
        sum(recovered_orders) as recovered,
        sum(net_revenue) as net
    from {{ ref('fct_marketing_attribution') }}
    group by metric_date
),

finance_days as (
    select order_date, sum(orders_count) as orders
    from {{ ref('fct_finance_revenue') }}
    group by order_date
)

select s.*, m.*, f.orders as finance_orders
from source_days as s
full outer join mart_days as m
    on s.order_dt = m.metric_date
full outer join finance_days as f
    on f.order_date = coalesce(s.order_dt, m.metric_date)
where s.order_dt is null
    or m.metric_date is null
    or m.orders <> s.orders
    or m.recovered <> s.recovered
    or m.net <> s.net
    or coalesce(f.orders, 0) <> m.orders
