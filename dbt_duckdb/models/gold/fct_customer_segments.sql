{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per (customer_segment, predicted_clv_bucket, actual_clv_bucket) of ONE snapshot:
    the CLV snapshot for var run_date, else the latest one. Reading every snapshot (as the
    predecessor did) counts each customer once per day loaded.
    Averages are weighted: avg_order_value = total spent / orders, not a mean of per-customer AOVs.
    Retention flags come from the retention snapshot of the same date, joined per customer. -#}
{%- set run_date = var('run_date', none) %}
{%- if run_date %}
{%- set snapshot_date = "date '" ~ run_date ~ "'" %}
{%- else %}
{%- set snapshot_date = "(select max(ingest_dt) from " ~ source('enriched', 'int_customer_lifetime_value') ~ ")" %}
{%- endif %}

with clv as (

    select
        ingest_dt,
        customer_id,
        customer_segment,
        coalesce(predicted_clv_bucket, 'unknown') as predicted_clv_bucket,
        actual_clv_bucket,
        coalesce(order_count, 0) as order_count,
        coalesce(return_count, 0) as return_count,
        total_spent,
        total_refunded,
        net_clv
    from {{ source('enriched', 'int_customer_lifetime_value') }}
    where ingest_dt = {{ snapshot_date }}

),

retention as (

    select
        customer_id,
        is_in_danger_zone,
        needs_bronze_nudge
    from {{ source('enriched', 'int_customer_retention_signals') }}
    where ingest_dt = {{ snapshot_date }}

)

select
    clv.ingest_dt as snapshot_date,
    clv.customer_segment,
    clv.predicted_clv_bucket,
    clv.actual_clv_bucket,
    count(*) as customer_count,
    count(*) filter (where clv.order_count > 0) as customers_with_orders,
    cast(sum(clv.order_count) as bigint) as orders_count,
    cast(sum(clv.return_count) as bigint) as returns_count,
    cast(coalesce(sum(clv.total_spent), 0) as decimal(38, 2)) as total_spent,
    cast(coalesce(sum(clv.total_refunded), 0) as decimal(38, 2)) as total_refunded,
    cast(coalesce(sum(clv.net_clv), 0) as decimal(38, 2)) as total_net_clv,
    cast(sum(clv.net_clv) as double) / count(*) as avg_net_clv,
    cast(sum(clv.total_spent) as double) / count(*) as avg_total_spent,
    cast(sum(clv.total_spent) as double) / nullif(sum(clv.order_count), 0) as avg_order_value,
    count(*) filter (where r.is_in_danger_zone) as at_risk_customers,
    count(*) filter (where r.needs_bronze_nudge) as bronze_nudge_customers
from clv
left join retention as r
    on clv.customer_id = r.customer_id
group by clv.ingest_dt, clv.customer_segment, clv.predicted_clv_bucket, clv.actual_clv_bucket
