// Verifies Nagara's credentials with Digital Bazaar's implementation, independently of ours.
// Usage: node verify.mjs INPUT.json, where INPUT holds
//   {"credentials": [...], "didDocument": {...}, "contexts": {"<url>": "<path to a local .jsonld>"}}
// and prints one line of JSON: [{"verified": bool, "error": "..."}, ...], in order.
// The document loader serves the DID document, its keys and local contexts only: nothing is fetched.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import multikeyContext from '@digitalbazaar/multikey-context';
import didContext from 'did-context';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const documents = new Map();
for(const [url, doc] of credentialsContexts) documents.set(url, doc);
for(const [url, doc] of dataIntegrityContext.contexts) documents.set(url, doc);
for(const [url, doc] of multikeyContext.contexts) documents.set(url, doc);
for(const [url, doc] of didContext.contexts) documents.set(url, doc);
for(const [url, path] of Object.entries(input.contexts || {})) {
  documents.set(url, JSON.parse(readFileSync(path, 'utf8')));
}
const did = input.didDocument;
documents.set(did.id, did);
for(const method of did.verificationMethod) {
  documents.set(method.id, {'@context': 'https://w3id.org/security/multikey/v1', ...method});
}

async function documentLoader(url) {
  const document = documents.get(url);
  if(document === undefined) {
    throw new Error(`document loader: ${url} is not served locally`);
  }
  return {contextUrl: null, documentUrl: url, document: structuredClone(document)};
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
const results = [];
for(const credential of input.credentials) {
  try {
    const result = await vc.verifyCredential({
      credential, suite, documentLoader,
      // status is checked separately (the status list credential); here: the proof
      checkStatus: async () => ({verified: true}),
    });
    const error = result.verified ? null : String(
      (result.error && (result.error.errors || [result.error]).map(e => e.message).join('; ')) ||
      JSON.stringify(result.results));
    results.push({verified: result.verified, error});
  } catch(e) {
    results.push({verified: false, error: String(e && e.message || e)});
  }
}
process.stdout.write(JSON.stringify(results) + '\n');
