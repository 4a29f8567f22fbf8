import datetime

from _compat import DAG, BashOperator, EmptyOperator, PythonOperator


def hello():
    print("hello")


with DAG(
    dag_id="classic",
    start_date=datetime.datetime(2024, 1, 1),
    schedule="@daily",
    tags=["corpus", "classic"],
    default_args={"owner": "team-a"},
) as dag:
    start = EmptyOperator(task_id="start")
    say = PythonOperator(
        task_id="say_hello",
        python_callable=hello,
    )
    shards = [BashOperator(task_id=f"shard_{i}", bash_command=f"echo {i}") for i in range(3)]
    end = EmptyOperator(task_id="end")
    start >> say >> shards >> end
