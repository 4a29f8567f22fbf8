"""Allocates 400 MB at import: a DAG file that a memory limit must stop (airflow dag)."""
hog = bytearray(400 * 1024 * 1024)
for i in range(0, len(hog), 4096):
    hog[i] = 1
