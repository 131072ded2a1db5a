// parseManifests on its own: what kubectl-written files and hostile YAML become.
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/sources/files/parseManifests.js';

const summary = (text: string) => {
  const { objects, problems } = parseManifests('f.yaml', text);
  return {
    objects: objects.map((o) => `${o.object.apiVersion} ${o.object.kind} ${o.object.metadata.name} @${o.origin.line}`),
    problems: problems.map((p) => `${p.line}: ${p.reason}`),
  };
};

describe('parseManifests', () => {
  it('expands kind: List items at their own lines, nested lists too, as kubectl does', () => {
    const text = `apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: v1
  kind: Service
  metadata: {name: reviews, namespace: shop}
- apiVersion: v1
  kind: List
  items:
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: reviews, namespace: shop}
- kind: Service
  apiVersion: v1
  spec: {}
`;
    expect(summary(text)).toEqual({
      objects: ['v1 Service reviews @5', 'networking.istio.io/v1 DestinationRule reviews @11'],
      problems: ['14: metadata is missing'],
    });
  });

  it('gives the items of a typed list (ServiceList) without kind and apiVersion those of the list', () => {
    const text = `apiVersion: v1
kind: ServiceList
items:
- metadata: {name: reviews, namespace: shop}
  spec: {ports: [{port: 9080}]}
- metadata: {name: ratings, namespace: shop}
`;
    expect(summary(text).objects).toEqual(['v1 Service reviews @4', 'v1 Service ratings @6']);
  });

  it('turns an alias bomb into one problem at its document, and still reads the other documents', () => {
    const text = `apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nx: &h y\nlist: [${Array(101).fill('*h').join(', ')}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n`;
    expect(summary(text)).toEqual({
      objects: ['v1 Service a @1', 'v1 Service b @8'],
      problems: ['5: Excessive alias count indicates a resource exhaustion attack'],
    });
  });
});
