"""Write the api-server's admin password (SimpleAuthManager's password file) from AIRFLOW_ADMIN_PASSWORD.

Run by the compose stack's api-server before it starts: the password comes from the environment
(`make airflow-secrets` writes it to .env), never from a default; an empty one stops the container.
"""

import json
import os
import sys

password = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "")
path = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "")
if len(password) < 12 or not path:
    sys.exit("error: AIRFLOW_ADMIN_PASSWORD (12+ characters) and AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE are required; run `make airflow-secrets`")
fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as fh:
    json.dump({"admin": password}, fh)
os.replace(path + ".tmp", path)
print(f"admin password set in {path}")
