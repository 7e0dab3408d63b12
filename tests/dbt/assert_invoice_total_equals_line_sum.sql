-- An invoice's total is the sum of its line amounts.
select
    invoices.invoice_id,
    invoices.total_amount,
    coalesce(sum(line_items.line_amount), 0) as line_sum
from {{ ref('invoices') }} as invoices
left join {{ ref('invoice_line_items') }} as line_items
    on invoices.invoice_id = line_items.invoice_id
group by invoices.invoice_id, invoices.total_amount
having invoices.total_amount <> coalesce(sum(line_items.line_amount), 0)
