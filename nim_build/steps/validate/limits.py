"""The sizes Kubernetes allows."""

# Kubernetes refuses a ConfigMap whose data keys and values exceed 1 MiB in total.
CONFIGMAP_LIMIT = 1_048_576
