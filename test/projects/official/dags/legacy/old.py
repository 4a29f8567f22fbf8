# an airflow dag kept for reference; .airflowignore excludes the folder
import airflow_one_point_ten  # noqa: F401
