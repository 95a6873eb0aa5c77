// Who is signed in (a person or an API key, the organization and role), the live
// connection's state, and an announcer for screen readers; every screen reads them through
// useSession().
import { createContext, useContext } from "react";
import type { Client } from "@urql/core";
import { graphql } from "./gql";
import type { ActorKind, Framework, Role } from "./gql/graphql";
import type { Credential } from "./lib/auth";
import type { LiveState } from "./lib/client";
import type { Problem } from "./lib/errors";

export const MeQuery = graphql(`
  query Me {
    me {
      kind
      role
      apiKeyId
      user { id displayName email }
      organization { id name frameworks }
    }
  }
`);

export interface Me {
  kind: ActorKind;
  role: Role;
  apiKeyId?: string | null;
  user?: { id: string; displayName: string; email: string } | null;
  organization: { id: string; name: string; frameworks: Framework[] };
}

export interface OAuthReturn {
  integration: string;
  status: string;
  message: string;
}

export interface Session {
  credential: Credential;
  me: Me;
  client: Client;
  live: LiveState;
  signOut: (notice?: Problem) => void;
  announce: (message: string) => void;
  oauthReturn: OAuthReturn | null;
  clearOAuthReturn: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in console");
  return session;
}

/** Where the OAuth round trip came back to (`?integration=…&status=…&message=…`), if it did. */
export function oauthReturnFrom(search: string): OAuthReturn | null {
  const params = new URLSearchParams(search);
  const integration = params.get("integration");
  const status = params.get("status");
  if (!integration || !status) return null;
  return { integration, status, message: params.get("message") ?? "" };
}
