{{ config(enabled=var('gold', false)) }}
-- fct_finance_revenue totals = the per-order sums of int_regional_financials and of
-- int_shipping_economics, and both enriched tables hold the same orders (one row each).
-- Returns a row (= failure) when anything differs.
{%- set run_date = var('run_date', none) %}

with mart as (
    select
        coalesce(sum(orders_count), 0) as orders,
        coalesce(sum(gross_revenue), 0) as gross,
        coalesce(sum(net_revenue), 0) as net,
        coalesce(sum(tax_amount), 0) as tax,
        coalesce(sum(revenue_ex_tax), 0) as ex_tax,
        coalesce(sum(shipping_revenue), 0) as ship_revenue,
        coalesce(sum(shipping_cost), 0) as ship_cost,
        coalesce(sum(shipping_margin), 0) as ship_margin
    from {{ ref('fct_finance_revenue') }}
),

financials as (
    select
        count(*) as orders,
        count(distinct order_id) as distinct_orders,
        coalesce(sum(gross_total), 0) as gross,
        coalesce(sum(net_total), 0) as net,
        coalesce(sum(tax_amount), 0) as tax,
        coalesce(sum(revenue_ex_tax), 0) as ex_tax
    from {{ source('enriched', 'int_regional_financials') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}
),

shipping as (
    select
        count(*) as orders,
        coalesce(sum(shipping_cost), 0) as ship_revenue,
        coalesce(sum(actual_shipping_cost), 0) as ship_cost,
        coalesce(sum(shipping_margin), 0) as ship_margin
    from {{ source('enriched', 'int_shipping_economics') }}
    {%- if run_date %}
    where order_dt <= date '{{ run_date }}'
    {%- endif %}
)

select
    mart.*,
    financials.orders as financials_orders,
    financials.gross as financials_gross,
    shipping.orders as shipping_orders,
    shipping.ship_revenue as shipping_revenue
from mart, financials, shipping
where mart.orders <> financials.orders
    or financials.orders <> financials.distinct_orders
    or mart.orders <> shipping.orders
    or mart.gross <> financials.gross
    or mart.net <> financials.net
    or mart.tax <> financials.tax
    or mart.ex_tax <> financials.ex_tax
    or mart.ship_revenue <> shipping.ship_revenue
    or mart.ship_cost <> shipping.ship_cost
    or mart.ship_margin <> shipping.ship_margin
