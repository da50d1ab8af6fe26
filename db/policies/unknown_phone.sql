-- unknown_phone: numbers nobody owns yet; an operations view for platform admins.
drop policy if exists "Unknown phone numbers are viewable by platform admins" on public.unknown_phone;
create policy "Unknown phone numbers are viewable by platform admins" on public.unknown_phone
for select to authenticated
using ((select private.is_admin()));
