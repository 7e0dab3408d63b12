-- An invoice's total is the sum of its line amounts (summed once, in the invoices mart).
select
    invoice_id,
    total_amount,
    line_items_amount
from {{ ref('invoices') }}
where total_amount <> line_items_amount
