{{ config(enabled=var('gold', false)) }}
-- fct_customer_segments covers exactly one CLV snapshot: its customer counts and money equal that
-- snapshot's rows, its at-risk / nudge counts equal the retention snapshot of the same date, and
-- both snapshots hold the same customers. Returns a row when anything differs.
{%- set run_date = var('run_date', none) %}
{%- if run_date %}
{%- set snapshot_date = "date '" ~ run_date ~ "'" %}
{%- else %}
{%- set snapshot_date = "(select max(ingest_dt) from " ~ source('enriched', 'int_customer_lifetime_value') ~ ")" %}
{%- endif %}

with mart as (
    select
        count(distinct snapshot_date) as snapshots,
        coalesce(sum(customer_count), 0) as customers,
        coalesce(sum(orders_count), 0) as orders,
        coalesce(sum(total_spent), 0) as spent,
        coalesce(sum(total_net_clv), 0) as net_clv,
        coalesce(sum(at_risk_customers), 0) as at_risk,
        coalesce(sum(bronze_nudge_customers), 0) as nudge
    from {{ ref('fct_customer_segments') }}
),

clv as (
    select
        count(*) as customers,
        count(distinct customer_id) as distinct_customers,
        coalesce(sum(order_count), 0) as orders,
        coalesce(sum(total_spent), 0) as spent,
        coalesce(sum(net_clv), 0) as net_clv
    from {{ source('enriched', 'int_customer_lifetime_value') }}
    where ingest_dt = {{ snapshot_date }}
),

retention as (
    select
        count(*) as customers,
        count(*) filter (where is_in_danger_zone) as at_risk,
        count(*) filter (where needs_bronze_nudge) as nudge
    from {{ source('enriched', 'int_customer_retention_signals') }}
    where ingest_dt = {{ snapshot_date }}
)

select
    mart.*,
    clv.customers as clv_customers,
    retention.customers as retention_customers
from mart, clv, retention
where mart.snapshots > 1
    or mart.customers <> clv.customers
    or clv.customers <> clv.distinct_customers
    or mart.orders <> clv.orders
    or mart.spent <> clv.spent
    or mart.net_clv <> clv.net_clv
    or retention.customers <> clv.customers
    or mart.at_risk <> retention.at_risk
    or mart.nudge <> retention.nudge
