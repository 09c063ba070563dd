"""A local S3-compatible server (moto in server mode), the fake of an external object store.

Tests reach it the way production reaches any S3-compatible store: POCKETPING_STORAGE_URL=s3://bucket/prefix
and POCKETPING_S3_ENDPOINT_URL=<its url>."""

from __future__ import annotations

from typing import Any

from pocketping_testkit.uvicorn_thread import free_port

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"  # noqa: S105  (the fake accepts any)
REGION = "us-east-1"


class FakeS3:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeS3:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def objects(self, bucket: str) -> dict[str, bytes]:
        client = self.client()
        out: dict[str, bytes] = {}
        for item in client.list_objects_v2(Bucket=bucket).get("Contents", ()):
            out[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return out

    def settings(self, bucket: str, prefix: str = "pp") -> dict[str, str]:
        """The POCKETPING_* settings that point a server at this store."""
        return {"storage_url": f"s3://{bucket}/{prefix}", "s3_endpoint_url": self.url, "s3_access_key_id": ACCESS_KEY,
                "s3_secret_access_key": SECRET_KEY, "s3_region": REGION}
