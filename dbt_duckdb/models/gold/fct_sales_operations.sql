{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per (product_id, order_date), driven by int_sales_velocity.
    Product economics join on (product_id, day); inventory comes from ONE int_inventory_risk
    snapshot (var run_date, else the latest), one row per product, so nothing fans out.
    Risk tiers are ranked by severity (HIGH 4 > MODERATE 3 > OVERSTOCK 2 > HEALTHY 1), never by
    alphabet: category_worst_risk_tier is the most severe tier among the category's products. -#}
{%- set run_date = var('run_date', none) %}
{%- if run_date %}
{%- set snapshot_date = "date '" ~ run_date ~ "'" %}
{%- else %}
{%- set snapshot_date = "(select max(ingest_dt) from " ~ source('enriched', 'int_inventory_risk') ~ ")" %}
{%- endif %}

with velocity as (

    select
        product_id,
        order_dt,
        daily_quantity,
        velocity_7d,
        trend_signal
    from {{ source('enriched', 'int_sales_velocity') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}

),

performance as (

    select
        product_id,
        product_dt,
        gross_revenue,
        gross_margin,
        net_margin,
        return_rate
    from {{ source('enriched', 'int_product_performance') }}
    {%- if run_date %}
    where product_dt <= date '{{ run_date }}'
    {%- endif %}

),

inventory as (

    select
        ingest_dt,
        product_id,
        category,
        inventory_quantity,
        days_of_cover,
        risk_tier,
        case risk_tier
            when 'HIGH' then 4
            when 'MODERATE' then 3
            when 'OVERSTOCK' then 2
            when 'HEALTHY' then 1
        end as risk_rank
    from {{ source('enriched', 'int_inventory_risk') }}
    where ingest_dt = {{ snapshot_date }}

),

category_risk as (

    select
        category,
        max(risk_rank) as worst_rank
    from inventory
    group by category

)

select
    v.product_id,
    v.order_dt as order_date,
    i.category,
    v.daily_quantity,
    cast(v.velocity_7d as double) as sales_velocity_7d,
    v.trend_signal,
    cast(p.gross_revenue as decimal(38, 2)) as gross_revenue,
    cast(p.gross_margin as decimal(38, 2)) as gross_margin,
    cast(p.net_margin as decimal(38, 2)) as net_margin,
    cast(p.return_rate as double) as return_rate,
    i.ingest_dt as inventory_snapshot_date,
    i.inventory_quantity,
    cast(i.days_of_cover as double) as days_of_cover,
    i.risk_tier as inventory_risk_tier,
    i.risk_rank as inventory_risk_rank,
    case c.worst_rank
        when 4 then 'HIGH'
        when 3 then 'MODERATE'
        when 2 then 'OVERSTOCK'
        when 1 then 'HEALTHY'
    end as category_worst_risk_tier
from velocity as v
left join performance as p
    on v.product_id = p.product_id
        and v.order_dt = p.product_dt
left join inventory as i
    on v.product_id = i.product_id
-- null-safe: products without a category share one bucket instead of silently losing it
left join category_risk as c
    on i.product_id is not null
        and i.category is not distinct from c.category
