{{ dms_changes(source('ledger', 'journal_entries')) }}
