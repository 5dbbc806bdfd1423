from monitor.fetch.client import Fetcher, FetchResult

__all__ = ["FetchResult", "Fetcher"]
