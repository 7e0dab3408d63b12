-- Double entry: the debits of every journal entry equal its credits.
select
    journal_entry_id,
    sum(debit_amount) as debits,
    sum(credit_amount) as credits
from {{ ref('journal_entry_lines') }}
group by journal_entry_id
having sum(debit_amount) <> sum(credit_amount)
