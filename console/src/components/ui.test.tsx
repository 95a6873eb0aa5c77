import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { AccountCell, ConnectionPager, DialogActions, ErrorNotice, Pager, SelectField, StatusBadge, Table, TextArea, TextField } from "./ui";

describe("StatusBadge", () => {
  it("says the status in words, not only in colour", () => {
    render(<StatusBadge status="FAILING" />);
    const badge = screen.getByText("Failing").closest(".badge")!;
    expect(badge.className).toContain("badge--bad");
    expect(badge.getAttribute("data-status")).toBe("FAILING");
    expect(badge.getAttribute("title")).toContain("fails");
  });
});

describe("Pager", () => {
  it("disables what cannot be done and pages on click", () => {
    const onNext = vi.fn();
    const onPrevious = vi.fn();
    render(
      <Pager label="Accounts" index={0} pageSize={50} shown={50} totalCount={20_000} hasNext onPrevious={onPrevious} onNext={onNext} />,
    );
    expect(screen.getByRole("navigation", { name: "Accounts pages" })).toBeTruthy();
    expect(screen.getByText("1–50 of 20,000")).toBeTruthy();
    const previous = screen.getByRole("button", { name: "Previous" }) as HTMLButtonElement;
    const next = screen.getByRole("button", { name: "Next" }) as HTMLButtonElement;
    expect(previous.disabled).toBe(true);
    fireEvent.click(next);
    expect(onNext).toHaveBeenCalledOnce();
    expect(onPrevious).not.toHaveBeenCalled();
  });

  it("stops at the last page", () => {
    render(<Pager label="People" index={1} pageSize={50} shown={7} totalCount={57} hasNext={false} onPrevious={() => {}} onNext={() => {}} />);
    expect((screen.getByRole("button", { name: "Next" }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Previous" }) as HTMLButtonElement).disabled).toBe(false);
  });
});

describe("ConnectionPager", () => {
  it("shows the connection's page and asks for the page after its end cursor", () => {
    const next = vi.fn();
    const previous = vi.fn();
    const connection = { totalCount: 57, edges: [{}, {}, {}], pageInfo: { hasNextPage: true, endCursor: "c3" } };
    render(<ConnectionPager label="Entries" connection={connection} pager={{ after: "c0", index: 1, next, previous, reset: () => {} }} pageSize={3} busy={false} />);
    expect(screen.getByText("4–6 of 57")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(next).toHaveBeenCalledWith("c3");
    fireEvent.click(screen.getByRole("button", { name: "Previous" }));
    expect(previous).toHaveBeenCalledOnce();
  });
});

describe("Table", () => {
  it("has a caption, column headers (hidden ones for screen readers only) and leaves out false columns", () => {
    render(
      <Table caption="Accounts" testId="accounts" className="accounts" busy columns={[{ label: "#", className: "num" }, "Account", false, { label: "Actions", hidden: true }]}>
        <tr>
          <td>1</td>
          <td>Ada</td>
          <td>Link</td>
        </tr>
      </Table>,
    );
    const table = screen.getByRole("table", { name: "Accounts" });
    expect(table.className).toBe("table accounts");
    expect(table.getAttribute("data-testid")).toBe("accounts");
    expect(table.closest(".table-wrap")!.getAttribute("aria-busy")).toBe("true");
    const headers = screen.getAllByRole("columnheader");
    expect(headers.map((h) => h.textContent)).toEqual(["#", "Account", "Actions"]);
    expect(headers.map((h) => h.getAttribute("scope"))).toEqual(["col", "col", "col"]);
    expect(headers[0]!.className).toBe("num");
    expect(headers[2]!.querySelector(".sr-only")!.textContent).toBe("Actions");
    expect(screen.getAllByRole("cell")).toHaveLength(3);
  });

  it("stands alone when not wrapped", () => {
    render(
      <Table caption="Problems" wrap={false} columns={["Line"]}>
        <tr>
          <td>2</td>
        </tr>
      </Table>,
    );
    expect(screen.getByRole("table", { name: "Problems" }).closest(".table-wrap")).toBeNull();
  });
});

describe("TextField", () => {
  it("ties its label, hint and error to the input", () => {
    render(<TextField label="Site" hint="such as acme.atlassian.net" error="not a Confluence site" />);
    const input = screen.getByLabelText("Site");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    const described = input.getAttribute("aria-describedby")!.split(" ").map((id) => document.getElementById(id)!.textContent);
    expect(described).toEqual(["such as acme.atlassian.net", "not a Confluence site"]);
  });
});

describe("TextArea and SelectField", () => {
  it("tie their label and error to the control, and only what is there", () => {
    render(
      <>
        <TextArea label="Reason" error="Give a reason" />
        <SelectField label="Kind" hint="what the account is" options={[{ value: "SERVICE", label: "Service" }]} />
      </>,
    );
    const area = screen.getByLabelText("Reason");
    expect(area.tagName).toBe("TEXTAREA");
    expect(area.getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById(area.getAttribute("aria-describedby")!)!.textContent).toBe("Give a reason");
    const select = screen.getByLabelText("Kind");
    expect(select.tagName).toBe("SELECT");
    expect(select.getAttribute("aria-invalid")).toBeNull();
    expect(document.getElementById(select.getAttribute("aria-describedby")!)!.textContent).toBe("what the account is");
    expect(screen.getByRole("option", { name: "Service" })).toBeTruthy();
  });
});

describe("DialogActions", () => {
  it("submits the form, or confirms with a danger button, and cancels", () => {
    const submit = vi.fn((e: { preventDefault: () => void }) => e.preventDefault());
    const cancel = vi.fn();
    const { unmount } = render(
      <form onSubmit={submit}>
        <DialogActions confirm="Link" onCancel={cancel} />
      </form>,
    );
    const link = screen.getByRole("button", { name: "Link" }) as HTMLButtonElement;
    expect(link.type).toBe("submit");
    expect(link.className).toBe("");
    fireEvent.click(link);
    expect(submit).toHaveBeenCalledOnce();
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(cancel).toHaveBeenCalledOnce();
    unmount();

    const confirm = vi.fn();
    render(<DialogActions confirm="Restore access" onConfirm={confirm} danger disabled onCancel={cancel} />);
    const restore = screen.getByRole("button", { name: "Restore access" }) as HTMLButtonElement;
    expect(restore.type).toBe("button");
    expect(restore.className).toBe("danger");
    expect(restore.disabled).toBe(true);
  });
});

describe("AccountCell", () => {
  it("names the account, says why an email is missing, then the rest", () => {
    render(
      <table>
        <tbody>
          <tr>
            <AccountCell account={{ accountId: "acc-1", displayName: null, email: null }} hiddenEmail="email hidden">
              atlassian
            </AccountCell>
          </tr>
        </tbody>
      </table>,
    );
    expect(screen.getByRole("cell").textContent).toBe("acc-1email hiddenatlassian");
    expect(screen.getByText("acc-1").tagName).toBe("STRONG");
  });
});

describe("ErrorNotice", () => {
  it("is an alert with a retry", () => {
    const retry = vi.fn();
    render(<ErrorNotice problem={{ kind: "network", title: "Cannot reach Vigil", detail: "Retry." }} onRetry={retry} />);
    expect(screen.getByRole("alert").textContent).toContain("Cannot reach Vigil");
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(retry).toHaveBeenCalledOnce();
  });
});
