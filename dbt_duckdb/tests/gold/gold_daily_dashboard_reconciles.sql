{{ config(enabled=var('gold', false)) }}
-- Every fct_daily_dashboard day equals its int_daily_business_metrics row, and its gross and net
-- revenue equal the per-order sums of fct_finance_revenue for that day (two enriched tables built
-- from the same orders must agree to the cent). Returns the days that differ.
{%- set run_date = var('run_date', none) %}

with metrics as (
    select metric_dt, orders_count, gross_revenue, net_revenue, carts_created, returns_count, refund_total
    from {{ source('enriched', 'int_daily_business_metrics') }}
    {%- if run_date %}
    where metric_dt <= date '{{ run_date }}'
    {%- endif %}
),

dashboard as (
    select metric_date, orders_count, gross_revenue, net_revenue, carts_created, returns_count, refund_total
    from {{ ref('fct_daily_dashboard') }}
),

finance as (
    select
        order_date,
        sum(orders_count) as orders_count,
        sum(gross_revenue) as gross_revenue,
        sum(net_revenue) as net_revenue
    from {{ ref('fct_finance_revenue') }}
    group by order_date
),

days as (
    select metric_dt as metric_day from metrics
    union
    select metric_date from dashboard
    union
    select order_date from finance
)

select
    days.metric_day,
    m.gross_revenue as enriched_gross_revenue,
    d.gross_revenue as dashboard_gross_revenue,
    f.gross_revenue as finance_gross_revenue,
    m.net_revenue as enriched_net_revenue,
    d.net_revenue as dashboard_net_revenue,
    f.net_revenue as finance_net_revenue
from days
left join metrics as m on days.metric_day = m.metric_dt
left join dashboard as d on days.metric_day = d.metric_date
left join finance as f on days.metric_day = f.order_date
where m.metric_dt is null
    or d.metric_date is null
    or d.orders_count is distinct from m.orders_count
    or d.gross_revenue is distinct from m.gross_revenue
    or d.net_revenue is distinct from m.net_revenue
    or d.carts_created is distinct from m.carts_created
    or d.returns_count is distinct from m.returns_count
    or d.refund_total is distinct from m.refund_total
    or coalesce(d.orders_count, 0) <> coalesce(f.orders_count, 0)
    or coalesce(d.gross_revenue, 0) <> coalesce(f.gross_revenue, 0)
    or coalesce(d.net_revenue, 0) <> coalesce(f.net_revenue, 0)
