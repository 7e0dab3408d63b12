{#- Fields whose shape changed in the source: a new type, a new field, or a field that
    every changed document used to have and some no longer do. One row per finding. -#}
with observations as (
    select * from {{ ref('field_type_observations') }}
),

runs as (
    select
        collection_name,
        invocation_id,
        min(observed_at) as observed_at,
        max(documents_changed) as documents_changed
    from observations
    group by collection_name, invocation_id
),

earliest_run as (
    select
        collection_name,
        min(observed_at) as observed_at
    from runs
    group by collection_name
),

latest_run as (
    select
        collection_name,
        max_by(invocation_id, observed_at) as invocation_id,
        max_by(documents_changed, observed_at) as documents_changed
    from runs
    group by collection_name
),

types_per_field as (
    select
        collection_name,
        field_name,
        field_type,
        min(first_commit_ts) as first_commit_ts,
        min(observed_at) as first_observed_at
    from observations
    where field_type <> 'null'
    group by collection_name, field_name, field_type
),

type_changes as (
    select
        collection_name,
        field_name,
        'type changed' as drift,
        concat_ws(', ', array_sort(collect_set(field_type))) as field_types,
        max(first_commit_ts) as first_commit_ts
    from types_per_field
    group by collection_name, field_name
    having count(*) > 1
),

new_fields as (
    select
        field_types_seen.collection_name,
        field_types_seen.field_name,
        'new field' as drift,
        concat_ws(', ', array_sort(collect_set(field_types_seen.field_type))) as field_types,
        min(field_types_seen.first_commit_ts) as first_commit_ts
    from types_per_field as field_types_seen
    inner join earliest_run
        on field_types_seen.collection_name = earliest_run.collection_name
    group by field_types_seen.collection_name, field_types_seen.field_name, earliest_run.observed_at
    having min(field_types_seen.first_observed_at) > earliest_run.observed_at
),

presence_per_run as (
    select
        collection_name,
        field_name,
        invocation_id,
        sum(documents) / max(documents_changed) as share_of_documents,
        sum(documents) as documents,
        max(documents_changed) as documents_changed,
        max(last_commit_ts) as last_commit_ts
    from observations
    group by collection_name, field_name, invocation_id
),

presence as (
    select
        presence_per_run.collection_name,
        presence_per_run.field_name,
        max(latest_run.documents_changed) as documents_changed_in_latest_run,
        sum(
            case when presence_per_run.invocation_id = latest_run.invocation_id then presence_per_run.documents end
        ) as documents_in_latest_run,
        min(
            case
                when presence_per_run.invocation_id <> latest_run.invocation_id
                    then presence_per_run.share_of_documents
            end
        ) as lowest_earlier_share,
        max(presence_per_run.last_commit_ts) as last_commit_ts
    from presence_per_run
    inner join latest_run
        on presence_per_run.collection_name = latest_run.collection_name
    group by presence_per_run.collection_name, presence_per_run.field_name
),

disappearing as (
    select
        collection_name,
        field_name,
        'field disappearing' as drift,
        concat(
            'in ', coalesce(documents_in_latest_run, 0), ' of ', documents_changed_in_latest_run,
            ' changed documents (was in all)'
        ) as field_types,
        last_commit_ts as first_commit_ts
    from presence
    where lowest_earlier_share = 1 and coalesce(documents_in_latest_run, 0) < documents_changed_in_latest_run
)

select * from type_changes
union all
select * from new_fields
union all
select * from disappearing
