-- Double entry: the debits of every journal entry equal its credits (summed in the mart).
select
    journal_entry_id,
    debit_total,
    credit_total
from {{ ref('journal_entries') }}
where debit_total <> credit_total
