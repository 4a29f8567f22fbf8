# airflow dag scratch file, excluded by sub/.airflowignore (anchored glob)
raise RuntimeError("never parsed")
