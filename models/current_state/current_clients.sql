select * from {{ cdc_latest_change_per_key(ref('stg_ledger__clients')) }}
