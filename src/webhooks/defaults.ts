// istiod's webhook names and port, shared by the server, the manifests' patcher and the CLI.

/** istiod's webhook port (the istiod Service maps 443 to it). */
export const defaultWebhookPort = 15017;
/** The MutatingWebhookConfiguration istiod keeps (default revision). */
export const injectorWebhookConfigName = 'istio-sidecar-injector';
/** The ValidatingWebhookConfiguration istiod keeps for istio-system. */
export const validatorWebhookConfigName = 'istio-validator-istio-system';
/** The validation webhook the API server names in its denials. */
export const validationWebhookName = 'validation.istio.io';
