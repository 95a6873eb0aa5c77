// Who is signed in (the API key's organization and role), the live connection's state, and
// an announcer for screen readers; every screen reads them through useSession().
import { createContext, useContext } from "react";
import type { Client } from "@urql/core";
import { graphql } from "./gql";
import type { Framework, Role } from "./gql/graphql";
import type { LiveState } from "./lib/client";
import type { Problem } from "./lib/errors";

export const MeQuery = graphql(`
  query Me {
    me {
      role
      apiKeyId
      organization { id name frameworks }
    }
  }
`);

export interface Me {
  role: Role;
  apiKeyId: string;
  organization: { id: string; name: string; frameworks: Framework[] };
}

export interface OAuthReturn {
  integration: string;
  status: string;
  message: string;
}

export interface Session {
  key: string;
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
