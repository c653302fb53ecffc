{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per (order_date, order_channel, region).
    Both inputs have one row per order, so they are joined per order (full outer join on the
    non-null order_id) and only then aggregated: no fan-out, and an order missing on one side still
    counts. Nullable keys are coalesced to 'unknown' / 'UNKNOWN' so that the grain is null-free. -#}
{%- set run_date = var('run_date', none) %}

with financials as (

    select
        order_id,
        order_dt,
        coalesce(order_channel, 'unknown') as order_channel,
        coalesce(region, 'UNKNOWN') as region,
        gross_total,
        net_total,
        total_discount_amount,
        tax_amount,
        revenue_ex_tax
    from {{ source('enriched', 'int_regional_financials') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}

),

shipping as (

    select
        order_id,
        order_dt,
        coalesce(order_channel, 'unknown') as order_channel,
        shipping_cost,
        actual_shipping_cost,
        shipping_margin
    from {{ source('enriched', 'int_shipping_economics') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}

),

orders as (

    select
        coalesce(f.order_dt, s.order_dt) as order_date,
        coalesce(f.order_channel, s.order_channel) as order_channel,
        coalesce(f.region, 'UNKNOWN') as region,
        f.gross_total,
        f.net_total,
        f.total_discount_amount,
        f.tax_amount,
        f.revenue_ex_tax,
        s.shipping_cost,
        s.actual_shipping_cost,
        s.shipping_margin
    from financials as f
    full outer join shipping as s
        on f.order_id = s.order_id

)

select
    order_date,
    order_channel,
    region,
    count(*) as orders_count,
    cast(coalesce(sum(gross_total), 0) as decimal(38, 2)) as gross_revenue,
    cast(coalesce(sum(net_total), 0) as decimal(38, 2)) as net_revenue,
    cast(coalesce(sum(total_discount_amount), 0) as decimal(38, 2)) as discount_amount,
    cast(coalesce(sum(tax_amount), 0) as decimal(38, 2)) as tax_amount,
    cast(coalesce(sum(revenue_ex_tax), 0) as decimal(38, 2)) as revenue_ex_tax,
    -- weighted: total tax over total gross, never an average of per-order rates
    cast(sum(tax_amount) as double) / nullif(cast(sum(gross_total) as double), 0) as effective_tax_rate,
    cast(coalesce(sum(shipping_cost), 0) as decimal(38, 2)) as shipping_revenue,
    cast(coalesce(sum(actual_shipping_cost), 0) as decimal(38, 2)) as shipping_cost,
    cast(coalesce(sum(shipping_margin), 0) as decimal(38, 2)) as shipping_margin
from orders
group by order_date, order_channel, region
