"""The one door to the database (SQLAlchemy 2, async): every SQL statement is issued here.

Import submodules directly; this package stays light.

- task_store: TaskStore, reads and writes of tasks, one transaction each (open_store); built
  from store_core (transactions, schema, scope, order), task_reads and task_writes
- selection: what a command acts on and the checks that it did not change
- claims: a worker takes, beats, reports and releases tasks; timed-out tasks are swept
- workers: worker rows (register, list, status, delete; plain WorkerInfo for the TUI)
- facets / facet_summary: value counts of a path (the SQL / the database-free half)
- results / result_paths: tasks grouped by swept parameters (the aggregation / the paths)
- indexes: expression indexes on JSON paths
- views: saved views; journal: the edit journal (undo, redo)
- sqlite_direct: SQLite through sqlite3: connection set-up and the fast paths;
  sqlite_direct_writes: update and delete there (journal_rules: the journal without SQL)
- engine, location, migrations, read_interrupts, id_prefixes, rows: plumbing
"""
