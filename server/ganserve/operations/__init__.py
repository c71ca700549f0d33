"""The API's operations, shared by the HTTP and gRPC front ends so that the same request gives the
same result on both: validated request models (ganserve.api.schemas) in, numpy arrays out.
The front ends only translate requests and encode what comes back."""
