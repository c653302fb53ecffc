{#- Nothing is lost: Bronze rows of the run date = valid rows (model) + quarantined rows. -#}
{% test row_conservation(model, bronze_table, quarantine_model) %}
with counts as (
    select
        (select count(*) from {{ ref('int_' ~ bronze_table ~ '__bronze') }}) as bronze_rows,
        (select count(*) from {{ model }}) as silver_rows,
        (select count(*) from {{ quarantine_model }}) as quarantine_rows
)
select *
from counts
where bronze_rows <> silver_rows + quarantine_rows
{% endtest %}
