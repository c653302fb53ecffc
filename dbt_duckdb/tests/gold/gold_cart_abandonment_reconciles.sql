{{ config(enabled=var('gold', false)) }}
-- Per cart date, fct_cart_abandonment's counts per status and values equal int_cart_attribution,
-- and the statuses add up to all carts (an unknown status would fall out of every bucket).
{%- set run_date = var('run_date', none) %}

with carts as (
    select
        cart_dt,
        count(*) as carts,
        count(*) filter (where cart_status = 'converted') as converted,
        count(*) filter (where cart_status = 'abandoned') as abandoned,
        count(*) filter (where cart_status = 'open') as carts_open,
        count(*) filter (where cart_status = 'empty') as carts_empty,
        coalesce(sum(abandoned_value), 0) as abandoned_value,
        coalesce(sum(cart_value), 0) as cart_value
    from {{ source('enriched', 'int_cart_attribution') }}
    {%- if run_date %}
    where cart_dt <= date '{{ run_date }}'
    {%- endif %}
    group by cart_dt
)

select c.*, m.*
from carts as c
full outer join {{ ref('fct_cart_abandonment') }} as m
    on c.cart_dt = m.cart_date
where c.cart_dt is null
    or m.cart_date is null
    or m.carts_total <> c.carts
    or m.converted_carts <> c.converted
    or m.abandoned_carts <> c.abandoned
    or m.open_carts <> c.carts_open
    or m.empty_carts <> c.carts_empty
    or m.converted_carts + m.abandoned_carts + m.open_carts + m.empty_carts <> m.carts_total
    or m.abandoned_value <> c.abandoned_value
    or m.cart_value_total <> c.cart_value
