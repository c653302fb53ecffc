{{ config(enabled=var('gold', false), materialized='table') }}
{#- Grain: one row per cart_date (the day the carts were created).
    conversion_rate = converted carts / all carts of the day: empty and still-open carts stay in
    the denominator, so a day full of empty carts does not look like a good day. -#}
{%- set run_date = var('run_date', none) %}

with carts as (

    select
        cart_dt,
        cart_status,
        cart_value,
        abandoned_value,
        time_to_purchase_hours
    from {{ source('enriched', 'int_cart_attribution') }}
    {%- if run_date %}
    where cart_dt <= date '{{ run_date }}'
    {%- endif %}

)

select
    cart_dt as cart_date,
    count(*) as carts_total,
    count(*) filter (where cart_status = 'converted') as converted_carts,
    count(*) filter (where cart_status = 'abandoned') as abandoned_carts,
    count(*) filter (where cart_status = 'open') as open_carts,
    count(*) filter (where cart_status = 'empty') as empty_carts,
    cast(count(*) filter (where cart_status = 'converted') as double) / count(*) as conversion_rate,
    cast(count(*) filter (where cart_status = 'abandoned') as double) / count(*) as abandonment_rate,
    cast(coalesce(sum(cart_value), 0) as decimal(38, 2)) as cart_value_total,
    cast(coalesce(sum(cart_value) filter (where cart_status = 'converted'), 0) as decimal(38, 2)) as converted_value,
    cast(coalesce(sum(abandoned_value), 0) as decimal(38, 2)) as abandoned_value,
    avg(cast(time_to_purchase_hours as double)) filter (where cart_status = 'converted') as avg_time_to_purchase_hours
from carts
group by cart_dt
