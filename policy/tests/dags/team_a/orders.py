from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

try:  # a task's own pod_override, merged with the runtime's in kubernetes mode
    from kubernetes.client import models as k8s
    OWN = {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[
        k8s.V1Container(name="base", env=[k8s.V1EnvVar(name="OWN_SETTING", value="kept")])]))}
except ImportError:
    OWN = {}

with DAG("orders", start_date=datetime(2024, 1, 1), schedule=None):
    @task
    def extract():
        return [1, 2]

    @task(executor_config=OWN)
    def own_pod():
        pass

    @task
    def load(x):
        pass

    load.expand(x=extract())
    own_pod()
