{{ config(enabled=var('gold', false)) }}
-- The recovered orders behind fct_marketing_attribution and the converted carts behind
-- fct_cart_abandonment are the same pairs: every recovered order's cart is a converted cart that
-- names that order, and every converted cart's order (when it is in Gold's window) names that cart.
{%- set run_date = var('run_date', none) %}

with purchases as (
    select order_id, cart_id
    from {{ source('enriched', 'int_attributed_purchases') }}
    where is_recovered
        {%- if run_date %}
        and order_dt <= date '{{ run_date }}'
        {%- endif %}
),

carts as (
    select cart_id, order_id
    from {{ source('enriched', 'int_cart_attribution') }}
    where cart_status = 'converted'
        {%- if run_date %}
        and cart_dt <= date '{{ run_date }}'
        {%- endif %}
),

all_orders as (
    select order_id
    from {{ source('enriched', 'int_attributed_purchases') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}
)

select 'recovered order without its converted cart' as problem, p.order_id, p.cart_id
from purchases as p
left join carts as c on p.cart_id = c.cart_id
where c.cart_id is null or c.order_id is distinct from p.order_id

union all

select 'converted cart whose order does not name it' as problem, c.order_id, c.cart_id
from carts as c
inner join all_orders as o on c.order_id = o.order_id
left join purchases as p on c.order_id = p.order_id
where p.cart_id is distinct from c.cart_id
