{#- Fails on every row where `expression` is false (write null-safe expressions). Works as a model
    or a column test (the column is then only documentation: the expression names it). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
