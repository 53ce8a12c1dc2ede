"""SageMaker's training control plane, CloudWatch Logs and STS, answered at ``POST /`` for AWS-signed requests."""
