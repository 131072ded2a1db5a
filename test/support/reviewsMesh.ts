// The "reviews" service of the tests, as YAML: a Service, its v1 pod, and
// (in reviewsMissingSubset) a DestinationRule with v1 and a VirtualService
// that routes to v2, which no DestinationRule defines (the silent 503).

export const reviewsService = `
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;

export const reviewsPodV1 = `
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-abc, namespace: default, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: reviews}
`;

export const reviewsDestinationRuleV1 = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
`;

export const reviewsVirtualService = (subset: string): string => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: ${subset}}
`;

/** Multi-document YAML joining documents with `---`. */
export const yamlDocuments = (...docs: string[]): string => docs.map((d) => d.trim()).join('\n---\n') + '\n';

export const reviewsMissingSubset = yamlDocuments(reviewsService, reviewsPodV1, reviewsDestinationRuleV1, reviewsVirtualService('v2'));

/** The EndpointSlice of a `reviews` service in namespace `shop`: one ready endpoint at `ip`. */
export const shopReviewsSlice = (ip: string, port = 9080): string => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-1, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [${ip}], conditions: {ready: true}}]
`;
