# An airflow dag file that .airflowignore excludes: Airflow never imports it.
import this_module_does_not_exist  # noqa: F401
