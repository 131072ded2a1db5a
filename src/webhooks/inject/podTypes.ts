// The parts of a Kubernetes Pod injection reads and writes. Everything else
// in the object is carried through untouched.

export type Json = Record<string, unknown>;

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
  [field: string]: unknown;
}

export interface Probe {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: unknown[] };
  tcpSocket?: { port: number | string; host?: string };
  grpc?: { port: number; service?: string };
  exec?: unknown;
  timeoutSeconds?: number;
  [field: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  restartPolicy?: string;
  [field: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Json[];
  hostNetwork?: boolean;
  serviceAccountName?: string;
  imagePullSecrets?: Array<{ name: string }>;
  [field: string]: unknown;
}

export interface PodMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; controller?: boolean }>;
  [field: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: PodMeta;
  spec: PodSpec;
  [field: string]: unknown;
}
