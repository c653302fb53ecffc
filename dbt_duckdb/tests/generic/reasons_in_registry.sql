{#- Every code in _quarantine_reason is a registered rule of this table: the seed quarantine_rules
    when it is loaded (dbt build / dbt seed), else the same registry as SQL values (a hand
    `dbt run && dbt test` does not load seeds). Both come from src/ecomlake/rules.py. -#}
{% test reasons_in_registry(model, table_name) %}
{%- set seed = ref('quarantine_rules') -%}
{%- set loaded = execute and adapter.get_relation(database=seed.database, schema=seed.schema, identifier=seed.identifier) is not none -%}
with codes as (
    select unnest(string_split(_quarantine_reason, '|')) as code
    from {{ model }}
),

registry as (
    {% if loaded -%}
    select code from {{ seed }} where table_name = '{{ table_name }}'
    {%- else -%}
    select unnest([{% for c in quarantine_registry_codes(table_name) %}'{{ c }}'{{ ", " if not loop.last }}{% endfor %}]) as code
    {%- endif %}
)

select codes.code
from codes
left join registry on codes.code = registry.code
where registry.code is null
{% endtest %}
