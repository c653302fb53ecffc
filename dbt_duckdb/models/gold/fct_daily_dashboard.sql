{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per metric_date, as in int_daily_business_metrics (one partition per day). -#}
{%- set run_date = var('run_date', none) %}

select
    metric_dt as metric_date,
    orders_count,
    cast(gross_revenue as decimal(38, 2)) as gross_revenue,
    cast(net_revenue as decimal(38, 2)) as net_revenue,
    cast(avg_order_value as double) as avg_order_value,
    carts_created,
    cast(cart_conversion_rate as double) as cart_conversion_rate,
    returns_count,
    cast(return_rate as double) as return_rate,
    cast(refund_total as decimal(38, 2)) as refund_total,
    cast(orders_7d_avg as double) as orders_7d_avg,
    cast(revenue_7d_avg as double) as revenue_7d_avg,
    cast(revenue_30d_avg as double) as revenue_30d_avg,
    cast(revenue_30d_std as double) as revenue_30d_std,
    revenue_anomaly_flag
from {{ source('enriched', 'int_daily_business_metrics') }}
{%- if run_date %}
where metric_dt <= date '{{ run_date }}'
{%- endif %}
